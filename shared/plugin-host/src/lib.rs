//! rentops-plugin-host: runs a client's rule plugin (a WebAssembly component implementing
//! `plugins/wit/rules.wit`, `rentops:rules@1.x`) sandboxed on wasmtime 48, and falls back to the native
//! default rules (`rentops-rules`) whenever the plugin cannot give a valid answer. The functions never
//! stop because of a plugin.
//!
//! # Host API
//!
//! ```text
//! // once per process (cold start): engine with the pooling allocator, no compiler
//! let rt = PluginRuntime::new(Limits::default(), sink)?;            // sink: Arc<dyn FallbackSink>
//! // per artifact (cache the Arc by sha256): .cwasm bytes from the blob store, no compilation
//! let plugin: Result<Arc<LoadedPlugin>, LoadError> = rt.load(&cwasm_bytes);
//! // per client per invocation
//! let mut rules: ClientRules = match plugin {
//!     Ok(p) => rt.session("client-a", p),                        // instance created on first call, reused
//!     Err(e) => rt.fallback_session("client-a", &e, None),       // every call: default rules + alert
//! };                                                             // (rt.native_session: client without plugin)
//! let d: Decision<DunningDecision> = rules.dunning_decide(&invoice_facts);
//! let f: Decision<LateFee>         = rules.late_fee(&invoice_facts);
//! let s: Decision<SlaDecision>     = rules.sla_decide(&ticket_facts);
//! let c: Decision<CreditDecision>  = rules.credit_decide(&applicant_facts);
//! // many facts at once (bill run, shadow run): one plugin call per chunk of Limits::batch_chunk (256);
//! // element i == (dunning_decide, late_fee) / sla_decide of facts[i]; a failing chunk falls back alone
//! let a: Vec<Decision<InvoiceAssessment>> = rules.dunning_assess_batch(&invoices); // .decision, .late_fee
//! let s: Vec<Decision<SlaDecision>>       = rules.sla_decide_batch(&tickets);
//! // d.value: the decision; d.source: Plugin { version } | Fallback { reason } | Native
//! ```
//! Operator side (feature `compile`, links Cranelift): [`precompile`]`(component_bytes) -> artifact bytes`
//! (the `.cwasm` the deploy command stores) and [`PluginRuntime::load_component`] (compile + load, for
//! `rentops plugin test`).
//!
//! # What is guaranteed
//! - Load ([`PluginRuntime::load`]): artifact integrity (BLAKE3 of the payload; sha256 in format-1
//!   artifacts, which still load, see [`artifact`]), engine
//!   compatibility (checked by wasmtime), **zero imports**, exports `rentops:rules/{plugin,dunning,sla,credit}`
//!   at a supported major ([`SUPPORTED_CONTRACT_MAJORS`]), a trial instance whose `plugin.info` is valid and
//!   reports contract 1.x and whose `plugin.init(table)` accepts the table packaged in the component's
//!   `rentops-rules-table` custom section. The source component's sha256 is recorded ([`PluginIdentity`]).
//! - Per decision: fuel [`Limits::fuel_per_call`] (11 M, deterministic), linear memory ≤
//!   [`Limits::memory_bytes`] (16 MiB), facts ≤ [`Limits::max_input_bytes`], answer ≤
//!   [`Limits::max_output_bytes`], answer checked by `rentops_rules::validate::*`.
//! - Isolation: one store + instance per [`ClientRules`] (per client, per invocation); never shared between
//!   clients. Reused within the session; dropped after any trap (a trapped component instance is
//!   poisoned) and recreated on the next call; after [`Limits::max_consecutive_failures`] failures in a row
//!   the session stops calling the plugin.
//! - Any trap, out-of-fuel, memory-cap hit, invalid answer, incompatible contract, load or init error →
//!   the native rules answer (the plugin's packaged table when it is a valid `RulesTable`, else
//!   `RulesTable::product_default()`), the decision says `Fallback { reason }`, a counter is bumped
//!   ([`PluginRuntime::metrics`]) and, once per session and reason kind, `warn!(alert = "plugin_fallback",
//!   ...)` is logged and a [`FallbackEvent`] goes to the [`FallbackSink`] (the application's audit trail).
//! - Batches ([`ClientRules::dunning_assess_batch`], [`ClientRules::sla_decide_batch`]): the same
//!   guarantees per chunk of ≤ [`Limits::batch_chunk`] facts: fuel `fuel_per_call × items`, total facts ≤
//!   [`Limits::max_batch_input_bytes`], total answer ≤ [`Limits::max_batch_output_bytes`], answer length =
//!   facts length, every element validated; a failing chunk is answered by the native rules (that chunk
//!   only), an invalid element alone. Batches exist for speed: one boundary crossing per chunk instead of
//!   one per decision (see benches/bench.rs for the figures).
//! - The success path creates no wasmtime error values (each costs ~3.7 µs with `RUST_BACKTRACE=1`).
//!
//! # Modules
//! - [`config`]: the one engine-settings definition, limits, pooling allocator sizing (with the numbers).
//! - [`artifact`]: the precompiled artifact envelope and the table custom section.
//! - `runtime`: [`PluginRuntime`], [`LoadedPlugin`], [`ClientRules`], [`Decision`], fallback machinery.
//! - `bindings`: `bindgen!` of the WIT contract and conversions to/from `rentops-rules` types.
//! - `native`: the `rentops-rules` evaluators (fallback) and validators (output checks).
//! - `compile` (feature `compile`): [`precompile`].

pub mod artifact;
mod bindings;
#[cfg(feature = "compile")]
mod compile;
pub mod config;
mod native;
mod runtime;

pub use bindings::InputSize;
#[cfg(feature = "compile")]
pub use compile::{CompileError, precompile, precompile_with};
pub use config::{EngineSettings, Limits, PoolSize, engine_config, runtime_config};
pub use runtime::{
    Call, ClientRules, Decision, DecisionSource, FallbackEvent, FallbackReason, FallbackSink, InvoiceAssessment,
    LoadError, LoadedPlugin, MemorySink, MetricsSnapshot, PluginIdentity, PluginRuntime, REASON_KINDS, RuntimeError,
    SUPPORTED_CONTRACT_MAJORS,
};
