//! The plugin runtime: loading precompiled plugins ([`PluginRuntime::load`]), per-client sessions
//! ([`ClientRules`]) that run decisions in a sandboxed instance, and the fallback to the native default
//! rules whenever the plugin cannot give a valid answer.
//!
//! Sandbox per call: fuel ([`Limits::fuel_per_call`]), memory cap (StoreLimits, wrapped to remember that
//! it denied a growth), input and output size caps, output validation by `rentops-rules`. Per session:
//! one instance, created lazily, reused for every call, dropped after any trap (a trapped component
//! instance is poisoned), and no more plugin calls after [`Limits::max_consecutive_failures`] failures.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rentops_rules as r;
use rentops_rules::RulesTable;
use tracing::warn;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, Trap};

use crate::artifact::{self, ArtifactError};
use crate::bindings::{self, InputSize, Rules, RulesPre};
use crate::config::{EngineSettings, Limits, PoolSize, runtime_config};
use crate::native;

/// Contract majors this host has bindings for. A plugin built against any other major is refused
/// (default rules apply); minors within a supported major are accepted (see plugins/wit/rules.wit).
pub const SUPPORTED_CONTRACT_MAJORS: &[u64] = &[1];
const CONTRACT_PACKAGE: &str = "rentops:rules/";
const REQUIRED_INTERFACES: [&str; 4] = ["plugin", "dunning", "sla", "credit"];
/// Plugin-supplied text in logs and audit events is cut to this many bytes.
const MAX_PLUGIN_TEXT: usize = 200;

// ------------------------------------------------------------------ public types

/// Which plugin function a decision (or failure) concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    Init,
    DunningDecide,
    LateFee,
    SlaDecide,
    CreditDecide,
    /// `dunning.assess-batch` (decision + late fee for a list of invoices).
    DunningAssessBatch,
    /// `sla.decide-batch`.
    SlaDecideBatch,
}

impl Call {
    pub fn as_str(self) -> &'static str {
        match self {
            Call::Init => "init",
            Call::DunningDecide => "dunning.decide",
            Call::LateFee => "dunning.late-fee",
            Call::SlaDecide => "sla.decide",
            Call::CreditDecide => "credit.decide",
            Call::DunningAssessBatch => "dunning.assess-batch",
            Call::SlaDecideBatch => "sla.decide-batch",
        }
    }
}

/// Why the default rules answered instead of the client's plugin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FallbackReason {
    #[error("plugin ran out of fuel (more than {0} instructions)")]
    OutOfFuel(u64),
    #[error("plugin hit the memory cap ({0} bytes)")]
    MemoryLimit(usize),
    #[error("plugin exhausted its stack")]
    StackOverflow,
    #[error("plugin trapped: {0}")]
    Trap(String),
    #[error("plugin answer rejected: {0}")]
    InvalidOutput(String),
    #[error("facts too large for the plugin ({bytes} bytes, limit {limit})")]
    InputTooLarge { bytes: usize, limit: usize },
    #[error("plugin could not be instantiated: {0}")]
    Instantiate(String),
    #[error("plugin init refused its rules table: {0}")]
    InitFailed(String),
    #[error("plugin could not be loaded: {0}")]
    LoadFailed(String),
    #[error("plugin contract incompatible: {0}")]
    Incompatible(String),
    #[error("plugin disabled for this session after {failures} consecutive failures (last: {last})")]
    Disabled { failures: u32, last: String },
}

impl FallbackReason {
    /// Stable metric / alert label.
    pub fn kind(&self) -> &'static str {
        REASON_KINDS[self.index()]
    }

    fn index(&self) -> usize {
        match self {
            FallbackReason::OutOfFuel(_) => 0,
            FallbackReason::MemoryLimit(_) => 1,
            FallbackReason::StackOverflow => 2,
            FallbackReason::Trap(_) => 3,
            FallbackReason::InvalidOutput(_) => 4,
            FallbackReason::InputTooLarge { .. } => 5,
            FallbackReason::Instantiate(_) => 6,
            FallbackReason::InitFailed(_) => 7,
            FallbackReason::LoadFailed(_) => 8,
            FallbackReason::Incompatible(_) => 9,
            FallbackReason::Disabled { .. } => 10,
        }
    }
}

/// Metric labels of [`FallbackReason::kind`], in index order.
pub const REASON_KINDS: [&str; 11] = [
    "out_of_fuel",
    "memory_limit",
    "stack_overflow",
    "trap",
    "invalid_output",
    "input_too_large",
    "instantiate",
    "init_failed",
    "load_failed",
    "incompatible",
    "disabled",
];

/// Where a decision came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecisionSource {
    /// The client's plugin answered (its own version string, e.g. "2026.1.0").
    Plugin { version: Arc<str> },
    /// The plugin failed or was unusable; the native default rules answered.
    Fallback { reason: FallbackReason },
    /// The client has no plugin: the native rules answered, nothing failed.
    Native,
}

/// A decision and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<T> {
    pub value: T,
    pub source: DecisionSource,
}

impl<T> Decision<T> {
    pub fn is_fallback(&self) -> bool {
        matches!(self.source, DecisionSource::Fallback { .. })
    }
}

/// Both dunning answers about one invoice: an element of [`ClientRules::dunning_assess_batch`] (WIT
/// `dunning.invoice-assessment`). Equal to what [`ClientRules::dunning_decide`] and
/// [`ClientRules::late_fee`] answer for the same facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceAssessment {
    pub decision: r::DunningDecision,
    pub late_fee: r::LateFee,
}

/// Identity of a loaded plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginIdentity {
    /// `plugin.info` as reported by the plugin (validated).
    pub info: r::PluginInfo,
    /// sha256 (hex) of the source component: the registry's identity of this artifact.
    pub sha256: String,
}

/// One plugin fallback, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackEvent {
    pub client: String,
    /// `None` when no plugin could even be loaded.
    pub plugin: Option<PluginIdentity>,
    pub call: Call,
    pub reason: FallbackReason,
}

/// Receives plugin fallbacks for the audit trail. Called synchronously on the decision path, once per
/// session and reason kind (not once per decision): implementations should only buffer (e.g. push to a
/// channel or a Vec the application writes to its audit store after the batch).
pub trait FallbackSink: Send + Sync {
    fn plugin_fallback(&self, event: &FallbackEvent);
}

/// A [`FallbackSink`] that keeps events in memory; [`MemorySink::take`] drains them.
#[derive(Debug, Default)]
pub struct MemorySink(std::sync::Mutex<Vec<FallbackEvent>>);

impl MemorySink {
    pub fn take(&self) -> Vec<FallbackEvent> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl FallbackSink for MemorySink {
    fn plugin_fallback(&self, event: &FallbackEvent) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event.clone());
    }
}

/// Process-wide counters (the metric behind the `plugin_fallback` alert).
#[derive(Debug, Default)]
struct Counters {
    plugin_decisions: AtomicU64,
    native_decisions: AtomicU64,
    instantiations: AtomicU64,
    fallbacks: [AtomicU64; REASON_KINDS.len()],
}

/// A snapshot of the runtime's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSnapshot {
    pub plugin_decisions: u64,
    /// Decisions by the native rules for clients without a plugin.
    pub native_decisions: u64,
    pub instantiations: u64,
    /// Fallback decisions per reason kind ([`REASON_KINDS`] order, zero counts included).
    pub fallbacks: Vec<(&'static str, u64)>,
}

impl MetricsSnapshot {
    pub fn fallback_total(&self) -> u64 {
        self.fallbacks.iter().map(|(_, n)| n).sum()
    }
    pub fn fallback(&self, kind: &str) -> u64 {
        self.fallbacks.iter().find(|(k, _)| *k == kind).map_or(0, |(_, n)| *n)
    }
}

/// Why [`PluginRuntime::load`] refused an artifact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error("precompiled for another wasmtime version or engine settings (re-run `rentops plugin deploy`): {0}")]
    Engine(String),
    #[error("plugin imports {0:?}; rule plugins must import nothing (build for wasm32-unknown-unknown, not wasip2)")]
    Imports(Vec<String>),
    #[error("not a rentops rules plugin: {0}")]
    NotARulesPlugin(String),
    #[error("plugin built for contract {found}; this host supports rentops:rules 1.x")]
    IncompatibleContract { found: String },
    #[error("plugin could not be instantiated: {0}")]
    Instantiate(String),
    #[error("plugin trapped during {call}: {reason}")]
    Trapped { call: &'static str, reason: FallbackReason },
    #[error("plugin info invalid: {0}")]
    Info(String),
    #[error("plugin init refused its rules table: {0}")]
    Init(String),
    #[cfg(feature = "compile")]
    #[error("plugin does not compile: {0}")]
    Compile(String),
}

impl LoadError {
    /// The reason recorded on decisions answered by the default rules because of this error.
    pub fn fallback_reason(&self) -> FallbackReason {
        match self {
            LoadError::IncompatibleContract { .. } | LoadError::Imports(_) | LoadError::NotARulesPlugin(_) => {
                FallbackReason::Incompatible(self.to_string())
            }
            LoadError::Init(m) => FallbackReason::InitFailed(m.clone()),
            LoadError::Instantiate(m) => FallbackReason::Instantiate(m.clone()),
            LoadError::Trapped { reason, .. } => reason.clone(),
            _ => FallbackReason::LoadFailed(self.to_string()),
        }
    }
}

/// A plugin loaded, validated and ready to instantiate. Cheap to share (`Arc`); cache it per artifact
/// sha256 for the life of the process.
pub struct LoadedPlugin {
    pre: RulesPre<HostState>,
    identity: PluginIdentity,
    version: Arc<str>,
    table_json: String,
    fallback: Arc<RulesTable>,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin").field("identity", &self.identity).finish_non_exhaustive()
    }
}

impl LoadedPlugin {
    pub fn identity(&self) -> &PluginIdentity {
        &self.identity
    }
    /// The packaged rules table (normalized JSON; empty when none).
    pub fn table_json(&self) -> &str {
        &self.table_json
    }
    /// The rules the host applies when this plugin fails: the packaged table when it is a valid
    /// [`RulesTable`], else [`RulesTable::product_default`].
    pub fn fallback_table(&self) -> &Arc<RulesTable> {
        &self.fallback
    }
}

// ------------------------------------------------------------------ store state

struct HostState {
    limiter: CapLimiter,
}

/// `StoreLimits` that remembers it refused a memory growth (to tell a memory-cap hit from other traps).
struct CapLimiter {
    inner: StoreLimits,
    memory_denied: bool,
}

impl ResourceLimiter for CapLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let ok = self.inner.memory_growing(current, desired, maximum)?;
        if !ok {
            self.memory_denied = true;
        }
        Ok(ok)
    }
    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }
    fn instances(&self) -> usize {
        self.inner.instances()
    }
    fn tables(&self) -> usize {
        self.inner.tables()
    }
    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

/// What a batch call answered, before the per-element checks of [`ClientRules::run_chunk`].
enum BatchOut<T> {
    /// One entry per fact (checked: a wrong count rejects the chunk): the answer, or why element i has none.
    Items(Vec<Result<T, String>>),
    /// The whole answer is unusable (wrong length, over the size cap).
    Rejected(String),
}

/// A live instance of a plugin with its own store.
struct Live {
    store: Store<HostState>,
    rules: Rules,
}

// ------------------------------------------------------------------ runtime

struct Inner {
    engine: Engine,
    linker: Linker<HostState>,
    limits: Limits,
    sink: Arc<dyn FallbackSink>,
    counters: Counters,
    default_table: Arc<RulesTable>,
}

/// The plugin runtime of a process: one engine (pooling allocator, no compiler in the functions), the
/// limits, the fallback sink and counters. Clone is cheap (shared).
#[derive(Clone)]
pub struct PluginRuntime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PluginRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginRuntime").field("limits", &self.inner.limits).finish_non_exhaustive()
    }
}

/// The runtime could not be created (pool reservation refused by the OS, bad settings).
#[derive(Debug, thiserror::Error)]
#[error("plugin runtime could not start: {0}")]
pub struct RuntimeError(String);

impl PluginRuntime {
    /// Runtime with [`EngineSettings::default`], [`PoolSize::default`] and `limits`.
    pub fn new(limits: Limits, sink: Arc<dyn FallbackSink>) -> Result<Self, RuntimeError> {
        Self::with_settings(&EngineSettings::default(), &PoolSize::default(), limits, sink)
    }

    pub fn with_settings(
        settings: &EngineSettings,
        pool: &PoolSize,
        limits: Limits,
        sink: Arc<dyn FallbackSink>,
    ) -> Result<Self, RuntimeError> {
        let engine =
            Engine::new(&runtime_config(settings, pool, &limits)).map_err(|e| RuntimeError(format!("{e:#}")))?;
        // Plugins import nothing: the linker stays empty.
        let linker = Linker::new(&engine);
        let inner = Inner {
            engine,
            linker,
            limits,
            sink,
            counters: Counters::default(),
            default_table: Arc::new(RulesTable::product_default()),
        };
        Ok(PluginRuntime { inner: Arc::new(inner) })
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Counters since the runtime started.
    pub fn metrics(&self) -> MetricsSnapshot {
        let c = &self.inner.counters;
        MetricsSnapshot {
            plugin_decisions: c.plugin_decisions.load(Ordering::Relaxed),
            native_decisions: c.native_decisions.load(Ordering::Relaxed),
            instantiations: c.instantiations.load(Ordering::Relaxed),
            fallbacks: REASON_KINDS.iter().zip(&c.fallbacks).map(|(k, n)| (*k, n.load(Ordering::Relaxed))).collect(),
        }
    }

    /// Load a precompiled plugin artifact (see [`crate::artifact`]): integrity check, deserialize (no
    /// compilation), zero imports, supported contract version, then one trial instance that must answer
    /// `plugin.info` (validated, contract 1.x) and accept its table in `plugin.init`.
    pub fn load(&self, artifact_bytes: &[u8]) -> Result<Arc<LoadedPlugin>, LoadError> {
        let art = artifact::decode(artifact_bytes)?;
        if art.format == artifact::FORMAT_1 {
            warn!(component_sha256 = %art.component_sha256,
                "plugin artifact has envelope format 1 (sha256 payload check, slower to load than format 2's BLAKE3); re-run `rentops plugin deploy` to repackage it as format 2");
        }
        // SAFETY: `Component::deserialize` requires bytes produced by wasmtime's own serializer. The
        // payload's checksum (BLAKE3, or sha256 in format 1) was written next to it by `precompile` and has
        // just been verified, so these are the exact bytes wasmtime produced at deploy time (the artifact
        // store itself is trusted: only the deploy command writes it). wasmtime further checks version and
        // engine settings.
        let component = unsafe { Component::deserialize(&self.inner.engine, art.payload) }
            .map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        self.finish_load(component, art.component_sha256, art.table)
    }

    /// Compile and load a component directly (operator CLI `plugin test`, tests). Functions never do this.
    #[cfg(feature = "compile")]
    pub fn load_component(&self, component_bytes: &[u8]) -> Result<Arc<LoadedPlugin>, LoadError> {
        let table = artifact::read_table_section(component_bytes)?.unwrap_or("");
        let component =
            Component::new(&self.inner.engine, component_bytes).map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        self.finish_load(component, artifact::sha256_hex(component_bytes), table)
    }

    fn finish_load(&self, component: Component, sha256: String, table: &str) -> Result<Arc<LoadedPlugin>, LoadError> {
        let engine = &self.inner.engine;
        let ty = component.component_type();
        let imports: Vec<String> = ty.imports(engine).map(|(name, _)| name.to_string()).collect();
        if !imports.is_empty() {
            return Err(LoadError::Imports(imports));
        }
        check_contract(ty.exports(engine).map(|(name, _)| name))?;
        let pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .and_then(RulesPre::new)
            .map_err(|e| LoadError::NotARulesPlugin(format!("{e:#}")))?;

        // Trial instance: init (with the packaged table, as every session does first) and info must work
        // before the plugin is accepted. init first, so a plugin may describe its table in `info`.
        let mut live = self.instantiate_raw(&pre)?;
        self.init(&mut live, table)?;
        let info = match live.rules.rentops_rules_plugin().call_info(&mut live.store) {
            Ok(i) => bindings::info_out(i),
            Err(e) => return Err(LoadError::Trapped { call: "plugin.info", reason: self.classify(&live, &e) }),
        };
        let major = info.contract.split('.').next().and_then(|m| m.parse::<u64>().ok());
        if !major.is_some_and(|m| SUPPORTED_CONTRACT_MAJORS.contains(&m)) {
            return Err(LoadError::IncompatibleContract {
                found: format!("rentops:rules@{} (plugin.info)", truncate(&info.contract)),
            });
        }
        native::validate_info(&info).map_err(LoadError::Info)?;

        let fallback = if table.trim().is_empty() {
            self.inner.default_table.clone()
        } else {
            match RulesTable::from_json(table) {
                Ok(t) => Arc::new(t),
                Err(e) => {
                    warn!(plugin = %info.name, version = %info.version, sha256 = %sha256, error = %e,
                        "plugin's packaged table is not a valid rules table; its fallback is the product default rules");
                    self.inner.default_table.clone()
                }
            }
        };
        let version: Arc<str> = Arc::from(info.version.as_str());
        Ok(Arc::new(LoadedPlugin {
            pre,
            identity: PluginIdentity { info, sha256 },
            version,
            table_json: table.to_string(),
            fallback,
        }))
    }

    fn instantiate_raw(&self, pre: &RulesPre<HostState>) -> Result<Live, LoadError> {
        let limits = &self.inner.limits;
        let state = HostState {
            limiter: CapLimiter {
                inner: StoreLimitsBuilder::new()
                    .memory_size(limits.memory_bytes)
                    .instances(8)
                    .tables(8)
                    .memories(1)
                    .build(),
                memory_denied: false,
            },
        };
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_fuel(limits.fuel_for_init).map_err(|e| LoadError::Instantiate(format!("{e:#}")))?;
        self.inner.counters.instantiations.fetch_add(1, Ordering::Relaxed);
        match pre.instantiate(&mut store) {
            Ok(rules) => Ok(Live { store, rules }),
            Err(e) => {
                let live_less = store.data().limiter.memory_denied;
                if live_less {
                    Err(LoadError::Trapped {
                        call: "instantiate",
                        reason: FallbackReason::MemoryLimit(self.inner.limits.memory_bytes),
                    })
                } else if let Some(t) = e.downcast_ref::<Trap>() {
                    Err(LoadError::Trapped { call: "instantiate", reason: trap_reason(*t, &self.inner.limits) })
                } else {
                    Err(LoadError::Instantiate(format!("{e:#}")))
                }
            }
        }
    }

    fn init(&self, live: &mut Live, table: &str) -> Result<(), LoadError> {
        live.store.set_fuel(self.inner.limits.fuel_for_init).map_err(|e| LoadError::Instantiate(format!("{e:#}")))?;
        match live.rules.rentops_rules_plugin().call_init(&mut live.store, table) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(msg)) => Err(LoadError::Init(truncate(&msg))),
            Err(e) => Err(LoadError::Trapped { call: "plugin.init", reason: self.classify(live, &e) }),
        }
    }

    fn classify(&self, live: &Live, err: &wasmtime::Error) -> FallbackReason {
        if live.store.data().limiter.memory_denied {
            return FallbackReason::MemoryLimit(self.inner.limits.memory_bytes);
        }
        match err.downcast_ref::<Trap>() {
            Some(t) => trap_reason(*t, &self.inner.limits),
            // Not a trap: the answer could not be lifted (invalid UTF-8, bad enum tag, bad pointer...).
            None => FallbackReason::InvalidOutput(truncate(&format!("{err:#}"))),
        }
    }

    /// A session for `client` running its loaded plugin. Create one per client per invocation; the
    /// instance is created on the first decision and dropped with the session.
    pub fn session(&self, client: &str, plugin: Arc<LoadedPlugin>) -> ClientRules {
        let table = plugin.fallback.clone();
        ClientRules {
            rt: self.clone(),
            client: client.to_string(),
            plugin: Some(plugin),
            live: None,
            failures: 0,
            disabled: None,
            table,
            alerted: 0,
            last_fuel_used: 0,
        }
    }

    /// A session for a client whose plugin could not be loaded: every decision comes from the native
    /// rules (`table`, else the product default) with the load error as the fallback reason.
    pub fn fallback_session(&self, client: &str, error: &LoadError, table: Option<Arc<RulesTable>>) -> ClientRules {
        ClientRules {
            rt: self.clone(),
            client: client.to_string(),
            plugin: None,
            live: None,
            failures: 0,
            disabled: Some(error.fallback_reason()),
            table: table.unwrap_or_else(|| self.inner.default_table.clone()),
            alerted: 0,
            last_fuel_used: 0,
        }
    }

    /// A session for a client without a plugin: the native rules answer (`source: Native`, no alert).
    pub fn native_session(&self, client: &str, table: Option<Arc<RulesTable>>) -> ClientRules {
        ClientRules {
            rt: self.clone(),
            client: client.to_string(),
            plugin: None,
            live: None,
            failures: 0,
            disabled: None,
            table: table.unwrap_or_else(|| self.inner.default_table.clone()),
            alerted: 0,
            last_fuel_used: 0,
        }
    }

    /// [`Self::load`], then [`Self::session`], or [`Self::fallback_session`] when loading fails (the table
    /// packaged in the artifact is used for the fallback when it can be read).
    pub fn load_session(&self, client: &str, artifact_bytes: &[u8]) -> ClientRules {
        match self.load(artifact_bytes) {
            Ok(p) => self.session(client, p),
            Err(e) => {
                let table = artifact::decode(artifact_bytes)
                    .ok()
                    .filter(|a| !a.table.trim().is_empty())
                    .and_then(|a| RulesTable::from_json(a.table).ok())
                    .map(Arc::new);
                self.fallback_session(client, &e, table)
            }
        }
    }
}

fn trap_reason(t: Trap, limits: &Limits) -> FallbackReason {
    match t {
        Trap::OutOfFuel => FallbackReason::OutOfFuel(limits.fuel_per_call),
        Trap::StackOverflow => FallbackReason::StackOverflow,
        other => FallbackReason::Trap(other.to_string()),
    }
}

fn truncate(s: &str) -> String {
    if s.len() <= MAX_PLUGIN_TEXT {
        return s.to_string();
    }
    let mut end = MAX_PLUGIN_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Checks the component's exports name the rentops:rules interfaces at a supported major.
fn check_contract<'a>(exports: impl Iterator<Item = &'a str>) -> Result<(), LoadError> {
    let mut found = [false; REQUIRED_INTERFACES.len()];
    let mut versions = Vec::new();
    for name in exports {
        let Some(rest) = name.strip_prefix(CONTRACT_PACKAGE) else { continue };
        let (iface, version) = rest.split_once('@').unwrap_or((rest, ""));
        let major = version.split('.').next().and_then(|m| m.parse::<u64>().ok());
        // 0.x releases are pre-contract and never compatible.
        let supported = major.is_some_and(|m| m > 0 && SUPPORTED_CONTRACT_MAJORS.contains(&m));
        if !supported {
            versions.push(format!("rentops:rules@{}", if version.is_empty() { "(unversioned)" } else { version }));
            continue;
        }
        if let Some(i) = REQUIRED_INTERFACES.iter().position(|r| *r == iface) {
            found[i] = true;
        }
    }
    if let Some(v) = versions.first() {
        return Err(LoadError::IncompatibleContract { found: v.clone() });
    }
    let missing: Vec<&str> = REQUIRED_INTERFACES.iter().zip(found).filter(|(_, f)| !f).map(|(n, _)| *n).collect();
    if !missing.is_empty() {
        return Err(LoadError::NotARulesPlugin(format!(
            "missing exports rentops:rules/{{{}}}@1.x",
            missing.join(", ")
        )));
    }
    Ok(())
}

// ------------------------------------------------------------------ sessions

/// One client's rules for one invocation: its plugin instance (created on first use, reused, recreated
/// after a trap) and the native fallback table. Not shared between clients, ever.
pub struct ClientRules {
    rt: PluginRuntime,
    client: String,
    plugin: Option<Arc<LoadedPlugin>>,
    live: Option<Live>,
    failures: u32,
    /// Set once the plugin must not be called any more in this session.
    disabled: Option<FallbackReason>,
    table: Arc<RulesTable>,
    /// Bit per reason kind already alerted in this session.
    alerted: u32,
    last_fuel_used: u64,
}

impl std::fmt::Debug for ClientRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRules")
            .field("client", &self.client)
            .field("plugin", &self.plugin.as_ref().map(|p| &p.identity))
            .field("live", &self.live.is_some())
            .field("failures", &self.failures)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

impl ClientRules {
    pub fn client(&self) -> &str {
        &self.client
    }

    /// The plugin this session runs, if any.
    pub fn plugin(&self) -> Option<&PluginIdentity> {
        self.plugin.as_ref().map(|p| &p.identity)
    }

    /// Fuel the last successful plugin call used (≈ wasm instructions); 0 when the plugin did not answer.
    pub fn last_fuel_used(&self) -> u64 {
        self.last_fuel_used
    }

    /// Whether a plugin instance is currently alive (for tests and diagnostics).
    pub fn has_instance(&self) -> bool {
        self.live.is_some()
    }

    pub fn dunning_decide(&mut self, facts: &r::InvoiceFacts) -> Decision<r::DunningDecision> {
        self.run(
            Call::DunningDecide,
            facts.wire_size(),
            |rules, store| {
                rules
                    .rentops_rules_dunning()
                    .call_decide(store, &bindings::invoice_in(facts))
                    .map(bindings::dunning_out)
            },
            |d| native::validate_dunning(facts, d),
            |t| native::dunning(t, facts),
        )
    }

    pub fn late_fee(&mut self, facts: &r::InvoiceFacts) -> Decision<r::LateFee> {
        self.run(
            Call::LateFee,
            facts.wire_size(),
            |rules, store| {
                rules
                    .rentops_rules_dunning()
                    .call_assess_late_fee(store, &bindings::invoice_in(facts))
                    .map(bindings::late_fee_out)
            },
            |d| native::validate_late_fee(facts, d),
            |t| native::late_fee(t, facts),
        )
    }

    pub fn sla_decide(&mut self, facts: &r::TicketFacts) -> Decision<r::SlaDecision> {
        self.run(
            Call::SlaDecide,
            facts.wire_size(),
            |rules, store| {
                rules.rentops_rules_sla().call_decide(store, &bindings::ticket_in(facts)).map(bindings::sla_out)
            },
            |d| native::validate_sla(facts, d),
            |t| native::sla(t, facts),
        )
    }

    pub fn credit_decide(&mut self, facts: &r::ApplicantFacts) -> Decision<r::CreditDecision> {
        self.run(
            Call::CreditDecide,
            facts.wire_size(),
            |rules, store| {
                rules
                    .rentops_rules_credit()
                    .call_decide(store, &bindings::applicant_in(facts))
                    .map(bindings::credit_out)
            },
            |d| native::validate_credit(facts, d),
            |t| native::credit(t, facts),
        )
    }

    /// Dunning decision + late fee for many invoices (a bill run, a shadow run): one plugin call per chunk
    /// of [`Limits::batch_chunk`] invoices (`dunning.assess-batch`) instead of two calls per invoice.
    /// Element i answers `facts[i]`, with the same value and the same guarantees as
    /// [`Self::dunning_decide`] + [`Self::late_fee`]:
    /// - a chunk gets `fuel_per_call × len` fuel, at most [`Limits::max_batch_input_bytes`] of facts and
    ///   [`Limits::max_batch_output_bytes`] of answers; an invoice over [`Limits::max_input_bytes`] is not
    ///   sent (native rules, `InputTooLarge`);
    /// - a trap / out of fuel / memory cap / unliftable answer / answer of the wrong length / answer over
    ///   the total cap → the native rules answer **that chunk** (every element `Fallback`, one failed call
    ///   towards [`Limits::max_consecutive_failures`]); the instance is recreated for the next chunk;
    /// - each element is validated like a single answer (both parts); an invalid element (or one over
    ///   [`Limits::max_output_bytes`]) falls back alone, the chunk then counts as one failed call.
    pub fn dunning_assess_batch(&mut self, facts: &[r::InvoiceFacts]) -> Vec<Decision<InvoiceAssessment>> {
        self.run_batch(
            Call::DunningAssessBatch,
            facts,
            |rules, store, chunk, limits| {
                let batch = bindings::invoice_batch_in(chunk);
                rules.rentops_rules_dunning().call_assess_batch(store, &batch).map(|answer| {
                    let answer = bindings::BatchAnswer::new(answer);
                    if answer.items.len() != chunk.len() {
                        return BatchOut::Rejected(format!(
                            "batch answer has {} elements for {} facts",
                            answer.items.len(),
                            chunk.len()
                        ));
                    }
                    if answer.wire_size > limits.max_batch_output_bytes {
                        return BatchOut::Rejected(format!(
                            "batch answer of {} bytes exceeds {}",
                            answer.wire_size, limits.max_batch_output_bytes
                        ));
                    }
                    BatchOut::Items(chunk.iter().enumerate().map(|(i, f)| answer.item(i, f)).collect())
                })
            },
            // The decision was checked by `BatchAnswer::item` (once per distinct decision of the batch).
            |f, a| native::validate_late_fee(f, &a.late_fee),
            |t, f| InvoiceAssessment { decision: native::dunning(t, f), late_fee: native::late_fee(t, f) },
        )
    }

    /// SLA decisions for many tickets (`sla.decide-batch`), chunked and guarded exactly like
    /// [`Self::dunning_assess_batch`]; element i equals [`Self::sla_decide`]`(&facts[i])`.
    pub fn sla_decide_batch(&mut self, facts: &[r::TicketFacts]) -> Vec<Decision<r::SlaDecision>> {
        self.run_batch(
            Call::SlaDecideBatch,
            facts,
            |rules, store, chunk, limits| {
                let batch = bindings::ticket_batch_in(chunk);
                rules.rentops_rules_sla().call_decide_batch(store, &batch).map(|answer| {
                    let answer = bindings::SlaBatchAnswer::new(answer, limits.max_output_bytes);
                    if answer.items.len() != chunk.len() {
                        return BatchOut::Rejected(format!(
                            "batch answer has {} elements for {} facts",
                            answer.items.len(),
                            chunk.len()
                        ));
                    }
                    BatchOut::Items((0..chunk.len()).map(|i| answer.item(i)).collect())
                })
            },
            // Each distinct decision was checked by `SlaBatchAnswer::new` (it does not depend on the ticket).
            |_, _| Ok(()),
            native::sla,
        )
    }

    /// Cuts `facts` into chunks (≤ `batch_chunk` items, ≤ `max_batch_input_bytes`), answers oversized facts
    /// natively in place, and runs each chunk through [`Self::run_chunk`]. Order is preserved.
    fn run_batch<F: InputSize, T: InputSize>(
        &mut self,
        call: Call,
        facts: &[F],
        invoke: impl Fn(&Rules, &mut Store<HostState>, &[F], &Limits) -> wasmtime::Result<BatchOut<T>>,
        check: impl Fn(&F, &T) -> Result<(), String>,
        native: impl Fn(&RulesTable, &F) -> T,
    ) -> Vec<Decision<T>> {
        let mut out = Vec::with_capacity(facts.len());
        if self.plugin.is_none() {
            self.run_chunk(call, facts, &mut out, &invoke, &check, &native);
            return out;
        }
        let limits = self.rt.inner.limits;
        let max_items = limits.batch_chunk.max(1);
        let (mut start, mut bytes) = (0, 0);
        for (i, f) in facts.iter().enumerate() {
            let size = f.wire_size();
            if size > limits.max_input_bytes {
                self.run_chunk(call, &facts[start..i], &mut out, &invoke, &check, &native);
                // Our facts, not the plugin's fault: no failure counted.
                let reason = FallbackReason::InputTooLarge { bytes: size, limit: limits.max_input_bytes };
                out.push(self.fallback(call, reason, |t| native(t, f)));
                (start, bytes) = (i + 1, 0);
                continue;
            }
            if i - start == max_items || (i > start && bytes + size > limits.max_batch_input_bytes) {
                self.run_chunk(call, &facts[start..i], &mut out, &invoke, &check, &native);
                (start, bytes) = (i, 0);
            }
            bytes += size;
        }
        self.run_chunk(call, &facts[start..], &mut out, &invoke, &check, &native);
        out
    }

    /// One plugin call for `chunk`; pushes one decision per fact to `out`.
    fn run_chunk<F: InputSize, T: InputSize>(
        &mut self,
        call: Call,
        chunk: &[F],
        out: &mut Vec<Decision<T>>,
        invoke: &impl Fn(&Rules, &mut Store<HostState>, &[F], &Limits) -> wasmtime::Result<BatchOut<T>>,
        check: &impl Fn(&F, &T) -> Result<(), String>,
        native: &impl Fn(&RulesTable, &F) -> T,
    ) {
        if chunk.is_empty() {
            return;
        }
        self.last_fuel_used = 0;
        let Some(plugin) = self.plugin.clone() else {
            match self.disabled.clone() {
                Some(reason) => {
                    for f in chunk {
                        out.push(self.fallback(call, reason.clone(), |t| native(t, f)));
                    }
                }
                None => {
                    self.rt.inner.counters.native_decisions.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    out.extend(
                        chunk
                            .iter()
                            .map(|f| Decision { value: native(&self.table, f), source: DecisionSource::Native }),
                    );
                }
            }
            return;
        };
        if let Some(reason) = self.disabled.clone() {
            for f in chunk {
                out.push(self.fallback(call, reason.clone(), |t| native(t, f)));
            }
            return;
        }
        let limits = self.rt.inner.limits;
        if self.live.is_none() {
            match self.rt.instantiate_raw(&plugin.pre).and_then(|mut live| {
                self.rt.init(&mut live, &plugin.table_json)?;
                Ok(live)
            }) {
                Ok(live) => self.live = Some(live),
                Err(e) => return self.failed_chunk(call, e.fallback_reason(), chunk, out, native),
            }
        }
        let Some(live) = self.live.as_mut() else {
            return self.failed_chunk(call, FallbackReason::Instantiate("no instance".into()), chunk, out, native);
        };
        live.store.data_mut().limiter.memory_denied = false;
        let fuel = limits.fuel_per_call.saturating_mul(chunk.len() as u64);
        if let Err(e) = live.store.set_fuel(fuel) {
            let reason = FallbackReason::Instantiate(format!("{e:#}"));
            return self.failed_chunk(call, reason, chunk, out, native);
        }
        let result = invoke(&live.rules, &mut live.store, chunk, &limits);
        let fuel_left = live.store.get_fuel().unwrap_or(0);
        let values = match result {
            Ok(v) => v,
            Err(e) => {
                let reason = match self.rt.classify(live, &e) {
                    // The chunk's budget, not one call's.
                    FallbackReason::OutOfFuel(_) => FallbackReason::OutOfFuel(fuel),
                    other => other,
                };
                // A trapped (or unliftable) instance is poisoned: drop it, the next chunk re-instantiates.
                self.live = None;
                return self.failed_chunk(call, reason, chunk, out, native);
            }
        };
        let values = match values {
            BatchOut::Items(v) => v,
            BatchOut::Rejected(msg) => {
                return self.failed_chunk(call, FallbackReason::InvalidOutput(msg), chunk, out, native);
            }
        };
        if values.len() != chunk.len() {
            let reason = FallbackReason::InvalidOutput(format!(
                "batch answer has {} elements for {} facts",
                values.len(),
                chunk.len()
            ));
            return self.failed_chunk(call, reason, chunk, out, native);
        }
        let sizes: Vec<usize> = values.iter().map(|v| v.as_ref().map_or(0, InputSize::wire_size)).collect();
        let total: usize = sizes.iter().sum();
        if total > limits.max_batch_output_bytes {
            let reason = FallbackReason::InvalidOutput(format!(
                "batch answer of {total} bytes exceeds {}",
                limits.max_batch_output_bytes
            ));
            return self.failed_chunk(call, reason, chunk, out, native);
        }
        let mut first_invalid = None;
        let mut answered = 0u64;
        for (i, ((f, value), size)) in chunk.iter().zip(values).zip(sizes).enumerate() {
            let checked = value.and_then(|value| {
                if size > limits.max_output_bytes {
                    return Err(format!("answer of {size} bytes exceeds {}", limits.max_output_bytes));
                }
                check(f, &value).map(|()| value).map_err(|msg| truncate(&msg))
            });
            match checked {
                Ok(value) => {
                    answered += 1;
                    out.push(Decision { value, source: DecisionSource::Plugin { version: plugin.version.clone() } });
                }
                Err(msg) => {
                    let reason = FallbackReason::InvalidOutput(format!("element {i}: {}", truncate(&msg)));
                    first_invalid.get_or_insert_with(|| reason.clone());
                    out.push(self.fallback(call, reason, |t| native(t, f)));
                }
            }
        }
        self.rt.inner.counters.plugin_decisions.fetch_add(answered, Ordering::Relaxed);
        match first_invalid {
            None => {
                self.failures = 0;
                self.last_fuel_used = fuel.saturating_sub(fuel_left);
            }
            Some(reason) => self.note_failure(&reason),
        }
    }

    /// The whole chunk is answered by the native rules; one failed call.
    fn failed_chunk<F, T>(
        &mut self,
        call: Call,
        reason: FallbackReason,
        chunk: &[F],
        out: &mut Vec<Decision<T>>,
        native: &impl Fn(&RulesTable, &F) -> T,
    ) {
        self.note_failure(&reason);
        for f in chunk {
            out.push(self.fallback(call, reason.clone(), |t| native(t, f)));
        }
    }

    fn run<T: InputSize>(
        &mut self,
        call: Call,
        input_bytes: usize,
        invoke: impl FnOnce(&Rules, &mut Store<HostState>) -> wasmtime::Result<T>,
        check: impl FnOnce(&T) -> Result<(), String>,
        native: impl FnOnce(&RulesTable) -> T,
    ) -> Decision<T> {
        self.last_fuel_used = 0;
        let Some(plugin) = self.plugin.clone() else {
            return match self.disabled.clone() {
                Some(reason) => self.fallback(call, reason, native),
                None => {
                    self.rt.inner.counters.native_decisions.fetch_add(1, Ordering::Relaxed);
                    Decision { value: native(&self.table), source: DecisionSource::Native }
                }
            };
        };
        if let Some(reason) = self.disabled.clone() {
            return self.fallback(call, reason, native);
        }
        let limits = self.rt.inner.limits;
        if input_bytes > limits.max_input_bytes {
            // Our facts, not the plugin's fault: no failure counted.
            let reason = FallbackReason::InputTooLarge { bytes: input_bytes, limit: limits.max_input_bytes };
            return self.fallback(call, reason, native);
        }
        if self.live.is_none() {
            match self.rt.instantiate_raw(&plugin.pre).and_then(|mut live| {
                self.rt.init(&mut live, &plugin.table_json)?;
                Ok(live)
            }) {
                Ok(live) => self.live = Some(live),
                Err(e) => return self.failed(call, e.fallback_reason(), native),
            }
        }
        let Some(live) = self.live.as_mut() else {
            return self.failed(call, FallbackReason::Instantiate("no instance".into()), native);
        };
        live.store.data_mut().limiter.memory_denied = false;
        if let Err(e) = live.store.set_fuel(limits.fuel_per_call) {
            let reason = FallbackReason::Instantiate(format!("{e:#}"));
            return self.failed(call, reason, native);
        }
        let result = invoke(&live.rules, &mut live.store);
        let fuel_left = live.store.get_fuel().unwrap_or(0);
        let value = match result {
            Ok(v) => v,
            Err(e) => {
                let reason = self.rt.classify(live, &e);
                // A trapped (or unliftable) instance is poisoned: drop it, the next call re-instantiates.
                self.live = None;
                return self.failed(call, reason, native);
            }
        };
        let size = value.wire_size();
        if size > limits.max_output_bytes {
            let reason =
                FallbackReason::InvalidOutput(format!("answer of {size} bytes exceeds {}", limits.max_output_bytes));
            return self.failed(call, reason, native);
        }
        if let Err(msg) = check(&value) {
            return self.failed(call, FallbackReason::InvalidOutput(truncate(&msg)), native);
        }
        self.failures = 0;
        self.last_fuel_used = limits.fuel_per_call.saturating_sub(fuel_left);
        self.rt.inner.counters.plugin_decisions.fetch_add(1, Ordering::Relaxed);
        Decision { value, source: DecisionSource::Plugin { version: plugin.version.clone() } }
    }

    /// A failure attributable to the plugin: counts towards disabling it for the session.
    fn failed<T>(&mut self, call: Call, reason: FallbackReason, native: impl FnOnce(&RulesTable) -> T) -> Decision<T> {
        self.note_failure(&reason);
        self.fallback(call, reason, native)
    }

    /// Counts a failed plugin call; disables the plugin for the session after too many in a row.
    fn note_failure(&mut self, reason: &FallbackReason) {
        self.failures += 1;
        let max = self.rt.inner.limits.max_consecutive_failures;
        if self.failures >= max {
            self.live = None;
            self.disabled = Some(FallbackReason::Disabled { failures: self.failures, last: reason.to_string() });
        }
    }

    fn fallback<T>(
        &mut self,
        call: Call,
        reason: FallbackReason,
        native: impl FnOnce(&RulesTable) -> T,
    ) -> Decision<T> {
        let inner = &self.rt.inner;
        let idx = reason.index();
        inner.counters.fallbacks[idx].fetch_add(1, Ordering::Relaxed);
        if self.alerted & (1 << idx) == 0 {
            self.alerted |= 1 << idx;
            let identity = self.plugin.as_ref().map(|p| p.identity.clone());
            let (name, version, sha) = identity
                .as_ref()
                .map_or(("", "", ""), |i| (i.info.name.as_str(), i.info.version.as_str(), i.sha256.as_str()));
            warn!(
                alert = "plugin_fallback",
                metric = "rentops.plugin.fallback",
                client = %self.client,
                plugin = name,
                version,
                sha256 = sha,
                call = call.as_str(),
                reason_kind = reason.kind(),
                reason = %reason,
                "client's rule plugin failed; the default rules decided instead"
            );
            inner.sink.plugin_fallback(&FallbackEvent {
                client: self.client.clone(),
                plugin: identity,
                call,
                reason: reason.clone(),
            });
        }
        Decision { value: native(&self.table), source: DecisionSource::Fallback { reason } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}

    #[test]
    fn shareable_across_threads_and_awaits() {
        // Loaded plugins are cached process-wide; sessions live across `.await` in the Lambda handlers.
        send_sync::<PluginRuntime>();
        send_sync::<LoadedPlugin>();
        send::<ClientRules>();
    }

    #[test]
    fn contract_versions_from_export_names() {
        let ok = [
            "rentops:rules/types@1.0.0",
            "rentops:rules/plugin@1.0.0",
            "rentops:rules/dunning@1.2.0",
            "rentops:rules/sla@1.0.0",
            "rentops:rules/credit@1.0.0",
        ];
        assert_eq!(check_contract(ok.into_iter()), Ok(()));
        assert_eq!(
            check_contract(["rentops:rules/plugin@2.0.0"].into_iter()),
            Err(LoadError::IncompatibleContract { found: "rentops:rules@2.0.0".into() })
        );
        assert_eq!(
            check_contract(["rentops:rules/plugin@0.9.0"].into_iter()),
            Err(LoadError::IncompatibleContract { found: "rentops:rules@0.9.0".into() })
        );
        assert_eq!(
            check_contract(["rentops:rules/plugin"].into_iter()),
            Err(LoadError::IncompatibleContract { found: "rentops:rules@(unversioned)".into() })
        );
        assert!(matches!(
            check_contract(["rentops:rules/plugin@1.0.0", "rentops:rules/dunning@1.0.0"].into_iter()),
            Err(LoadError::NotARulesPlugin(m)) if m.contains("sla, credit")
        ));
        assert!(matches!(check_contract(["my:other/thing@1.0.0"].into_iter()), Err(LoadError::NotARulesPlugin(_))));
    }

    #[test]
    fn plugin_text_is_cut_on_a_char_boundary() {
        let long = "é".repeat(300);
        let t = truncate(&long);
        assert!(t.len() <= MAX_PLUGIN_TEXT + "…".len());
        assert!(t.ends_with('…'));
        assert_eq!(truncate("short"), "short");
    }
}
