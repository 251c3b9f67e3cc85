//! Engine settings (the ONE definition shared by the compiler and the runtime), per-call limits and the
//! pooling allocator's sizing.
//!
//! A precompiled plugin (`.cwasm`) loads only into an engine whose compilation-relevant settings match the
//! engine that compiled it exactly (wasmtime checks this on load). The operator CLI compiles with
//! [`engine_config`] + Cranelift; the functions load with [`engine_config`] + the pooling allocator and no
//! compiler. Everything that affects generated code is therefore set here, explicitly, never left to
//! wasmtime's feature-dependent defaults: fuel on, no epoch interruption, no GC / function references /
//! exceptions / threads / stack switching / memory64 / component-model async, a fixed memory reservation and
//! guard size.
//!
//! # Pooling allocator sizing (Lambda)
//!
//! A Lambda execution environment runs one invocation at a time; an invocation holds one plugin instance
//! per client it is working for (a bill run walks clients one after another, a webhook touches one client).
//! [`PoolSize::default`]:
//! - 16 component instances (= 16 [`crate::ClientRules`] sessions with a live instance at once; a 17th
//!   does not wait: its instantiation fails and that client gets the default rules with reason
//!   `instantiate`, the others are unaffected — tested);
//! - per instance: 1 linear memory of at most [`Limits::memory_bytes`] (16 MiB), at most 4 core instances
//!   and 4 tables of ≤ 10 000 elements (a Rust guest componentized with no imports has 1 core instance,
//!   1 memory, 1 table);
//! - memory reservation 4 GiB + 32 MiB guard per slot ([`EngineSettings::default`]): with a 4 GiB
//!   reservation Cranelift elides bounds checks on 32-bit memories (the guard pages trap instead), which is
//!   what makes a plugin run at close to native speed. That is **16 × 4.03 GiB ≈ 64.5 GiB of reserved
//!   virtual address space** (`PROT_NONE`, no physical memory, no commit charge) mapped once at engine
//!   creation; resident memory is only what guests touch (≤ 16 MiB each, typically ~1–2 MiB for a rules
//!   plugin), released (`madvise`) when an instance is dropped. x86_64 Linux gives a process 128 TiB of
//!   address space, so this is ~0.05 % of it. Hosts that must keep VA small can set a smaller
//!   `memory_reservation` (bounds-checked code, slower) — it is a compile setting, so the CLI and the
//!   functions must agree, which is why it lives in [`EngineSettings`].

use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Settings that change the generated machine code: compiler and runtime must use the same values.
/// Stored nowhere else; `rentops plugin deploy` and the functions both call [`engine_config`] with
/// [`EngineSettings::default`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineSettings {
    /// Virtual address space reserved per linear memory (bytes).
    pub memory_reservation: u64,
    /// Guard region after each linear memory (bytes).
    pub memory_guard_size: u64,
    /// Native stack the guest may use (bytes). Runtime-only, but kept here so both sides agree.
    pub max_wasm_stack: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings { memory_reservation: 4 << 30, memory_guard_size: 32 << 20, max_wasm_stack: 512 << 10 }
    }
}

/// The one engine configuration for compiling (CLI, feature `compile`) and loading (functions) plugins.
/// The allocation strategy is added by [`runtime_config`]; it does not affect compiled code.
pub fn engine_config(settings: &EngineSettings) -> Config {
    let mut c = Config::new();
    // Deterministic CPU budget: fuel counts executed wasm operators.
    c.consume_fuel(true);
    c.epoch_interruption(false);
    // The component model, synchronous only.
    c.wasm_component_model(true);
    c.concurrency_support(false);
    // Proposals a rules plugin has no use for, off explicitly. Threads, function references, exceptions
    // and component-model async are not even compiled in (wasmtime features `threads`, `gc`,
    // `component-model-async` are off in this crate, with or without `compile`), so both sides agree.
    c.gc_support(false);
    c.wasm_gc(false);
    c.wasm_stack_switching(false);
    c.wasm_memory64(false);
    c.wasm_custom_page_sizes(false);
    // Memory layout (affects bounds checks in generated code).
    c.memory_reservation(settings.memory_reservation);
    c.memory_guard_size(settings.memory_guard_size);
    c.memory_reservation_for_growth(0);
    c.max_wasm_stack(settings.max_wasm_stack);
    // A trap from a hostile plugin must be cheap: no wasm backtrace capture.
    c.wasm_backtrace_max_frames(None);
    // Nothing maps machine code back to wasm offsets (no backtraces, no debugger): without the address map the
    // precompiled artifact is smaller, and so faster to load at cold start.
    c.generate_address_map(false);
    c
}

/// How many plugin instances one process can hold at once, and their shape. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSize {
    pub component_instances: u32,
    pub core_instances_per_component: u32,
    pub tables_per_component: u32,
    pub table_elements: usize,
}

impl Default for PoolSize {
    fn default() -> Self {
        PoolSize {
            component_instances: 16,
            core_instances_per_component: 4,
            tables_per_component: 4,
            table_elements: 10_000,
        }
    }
}

/// [`engine_config`] plus the pooling allocator sized by `pool` and `limits`.
pub fn runtime_config(settings: &EngineSettings, pool: &PoolSize, limits: &Limits) -> Config {
    let mut c = engine_config(settings);
    let mut p = PoolingAllocationConfig::new();
    p.total_component_instances(pool.component_instances);
    p.max_core_instances_per_component(pool.core_instances_per_component);
    p.total_core_instances(pool.component_instances * pool.core_instances_per_component);
    p.max_memories_per_component(1);
    p.max_memories_per_module(1);
    p.total_memories(pool.component_instances);
    p.max_tables_per_component(pool.tables_per_component);
    p.max_tables_per_module(pool.tables_per_component);
    p.total_tables(pool.component_instances * pool.tables_per_component);
    p.table_elements(pool.table_elements);
    p.max_memory_size(limits.memory_bytes);
    c.allocation_strategy(InstanceAllocationStrategy::Pooling(p));
    c
}

/// Per-plugin resource limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Fuel (≈ wasm instructions) per decision call. 11 M is the Shopify Functions budget: a rules plugin
    /// needs a few thousand; an infinite loop is stopped after ~10 ms.
    pub fuel_per_call: u64,
    /// Fuel for instantiation + `plugin.init(table)` (parses the packaged table).
    pub fuel_for_init: u64,
    /// Linear memory cap per instance (bytes), enforced by `StoreLimits` and the pool.
    pub memory_bytes: usize,
    /// Largest facts record the host passes in (bytes once lowered); larger → default rules.
    pub max_input_bytes: usize,
    /// Largest decision the host accepts back (bytes once lifted); larger → default rules.
    pub max_output_bytes: usize,
    /// After this many consecutive failed calls in one session the plugin is not called again in that
    /// session (each failure can cost a full fuel budget); the default rules answer instead. A failed batch
    /// chunk counts as one failed call.
    pub max_consecutive_failures: u32,
    /// Batch calls (`ClientRules::dunning_assess_batch`, `sla_decide_batch`) send at most this many facts
    /// per plugin call; a longer batch is cut into chunks. A chunk's fuel budget is
    /// `fuel_per_call × items` (the same budget the items would have one call at a time), so an infinite
    /// loop in a full chunk of 256 burns 2.8 G fuel (~0.2 s) before that chunk falls back.
    pub batch_chunk: usize,
    /// Largest total facts size (bytes once lowered) per batch chunk; a chunk is closed earlier when the
    /// next facts would exceed it. Each item must also be within `max_input_bytes`.
    pub max_batch_input_bytes: usize,
    /// Largest total answer (bytes once lifted) per batch chunk; larger → the whole chunk falls back. Each
    /// element must also be within `max_output_bytes`.
    pub max_batch_output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel_per_call: 11_000_000,
            fuel_for_init: 11_000_000,
            memory_bytes: 16 << 20,
            max_input_bytes: 64 << 10,
            max_output_bytes: 64 << 10,
            max_consecutive_failures: 3,
            batch_chunk: 256,
            max_batch_input_bytes: 1 << 20,
            max_batch_output_bytes: 2 << 20,
        }
    }
}
