//! rentops-plugin-sdk: write a rentops rule plugin in plain Rust over `rentops-rules` types.
//!
//! Public API (stable):
//! - trait [`Rules`]: `NAME`, `VERSION`, `init(Option<RulesTable>) -> Result<Self, String>`, `table()`, and
//!   `dunning` / `late_fee_calc` / `sla` / `credit` with default bodies = the table-driven rules
//!   (`rentops_rules::evaluate`). Override only what your client does differently. `late_fee_calc` returns the
//!   fee *unworded* ([`LateFeeCalc`]: amount, rule, outcome, caps, [`FeeWording`]); [`RulesExt::late_fee`] (not
//!   overridable) words it for the single call, the host words it for the batch, the same way. The contract's
//!   batch functions (`dunning.assess-batch` = `dunning` + `late_fee_calc` per invoice in the compact batch
//!   form, `sla.decide-batch`) are generated from these methods (a loop that sends each distinct decision,
//!   rule and text once per batch); there is nothing to implement for them. Rules must not depend on
//!   `invoice_id` / `lease_id`: the batch does not send them (they are empty there).
//! - macro [`export_rules!`]`(MyType)`: exports the `rentops:rules@1.0.0` world for `MyType` from a `cdylib`.
//! - [`Plugin`]`<T>`: the adapter implementing the generated guest traits (used by the macro).
//! - re-exports: `rentops_rules` as [`rules`] and its types at the root (`InvoiceFacts`, `DunningDecision`, ...).
//! - [`alloc`]: the plugin's allocator (size classes for small blocks; feature `small-alloc`, on by default).
//! - [`bindings`]: the generated wit-bindgen code (`exports::rentops::rules::*`), for the rare plugin that needs it.
//!
//! A plugin imports nothing: build it for `wasm32-unknown-unknown` and turn it into a component with
//! `rentops-plugin-tools componentize` (or `scripts/build-plugins.sh`). The host calls `plugin.init(table)` once
//! per instance: an empty table becomes `None`; otherwise the normalized JSON is parsed and validated
//! ([`RulesTable::from_json`]) before `T::init` sees it. Calls made before `init` initialise with `None`.
//!
//! ```text
//! use rentops_plugin_sdk::*;
//! struct Lotus(RulesTable);
//! impl Rules for Lotus {
//!     const NAME: &'static str = "lotus rules";
//!     const VERSION: &'static str = "1.0.0";
//!     fn init(table: Option<RulesTable>) -> Result<Self, String> {
//!         Ok(Lotus(table.unwrap_or_else(RulesTable::product_default)))
//!     }
//!     fn table(&self) -> &RulesTable { &self.0 }
//! }
//! export_rules!(Lotus);
//! ```

extern crate self as rentops_plugin_sdk;

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;

pub use rentops_rules as rules;
pub use rentops_rules::evaluate;
pub use rentops_rules::evaluate::{FeeWording, LateFeeCalc};
pub use rentops_rules::table::{LateFeeTable, RulesTable};
pub use rentops_rules::types::*;
pub use rentops_rules::validate::{
    OutputError, validate_credit, validate_dunning, validate_late_fee, validate_plugin_info, validate_sla,
};

#[doc(hidden)]
pub use wit_bindgen::rt as __rt;

/// The generated bindings of `plugins/wit/rules.wit` (world `rules`).
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "rules",
        pub_export_macro: true,
        export_macro_name: "__export_rules_world",
        default_bindings_module: "rentops_plugin_sdk::bindings",
        runtime_path: "rentops_plugin_sdk::__rt",
    });
}

mod convert;

pub mod alloc;

/// The plugin's allocator on wasm32 (feature `small-alloc`, default): see [`alloc`].
#[cfg(all(target_arch = "wasm32", feature = "small-alloc"))]
#[global_allocator]
static ALLOC: alloc::SmallAlloc = alloc::SmallAlloc::new();

/// A rule plugin. Every decision has a default body: the table-driven rule over [`Rules::table`].
pub trait Rules: Sized + 'static {
    /// Human name, e.g. "lotus-parking rules 2026".
    const NAME: &'static str;
    /// The plugin's own version (semver).
    const VERSION: &'static str;

    /// Build the plugin from its packaged table (`None`: the artifact carries no table). An error makes the host
    /// fall back to the default rules.
    fn init(table: Option<RulesTable>) -> Result<Self, String>;

    /// The table the default decisions use.
    fn table(&self) -> &RulesTable;

    fn dunning(&self, facts: &InvoiceFacts) -> DunningDecision {
        evaluate::dunning(self.table(), facts)
    }
    /// The late fee, computed but not worded: amount, rule applied, outcome, caps and wording
    /// ([`evaluate::LateFeeCalc`]). The single call words it in the plugin ([`RulesExt::late_fee`]); the batch sends
    /// the parts and the host words it the same way. To add to the standard wording, set
    /// `wording: FeeWording::WithNote(..)`; for a text of your own, `FeeWording::Own(..)`.
    fn late_fee_calc<'a>(&'a self, facts: &InvoiceFacts) -> LateFeeCalc<'a> {
        evaluate::late_fee_calc(self.table(), facts)
    }
    fn sla(&self, facts: &TicketFacts) -> SlaDecision {
        evaluate::sla(self.table(), facts)
    }
    fn credit(&self, facts: &ApplicantFacts) -> CreditDecision {
        evaluate::credit(self.table(), facts)
    }
}

/// What every [`Rules`] answers and cannot override (so that the single call and the batch always agree).
pub trait RulesExt: Rules {
    /// The late fee with its explanation: [`Rules::late_fee_calc`], worded (`dunning.assess-late-fee`).
    fn late_fee(&self, facts: &InvoiceFacts) -> LateFee {
        self.late_fee_calc(facts).to_late_fee(facts)
    }
}

impl<T: Rules> RulesExt for T {}

// The plugin instance's state (a component instance is single-threaded).
std::thread_local! {
    static STATE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Parse the packaged table the host passes to `plugin.init` ("" = none).
pub fn parse_packaged_table(table: &str) -> Result<Option<RulesTable>, String> {
    if table.trim().is_empty() {
        return Ok(None);
    }
    RulesTable::from_json(table).map(Some).map_err(|e| e.to_string())
}

/// Adapter from [`Rules`] to the generated guest traits; `export_rules!` exports `Plugin<YourType>`.
pub struct Plugin<T>(PhantomData<T>);

impl<T: Rules> Plugin<T> {
    /// `plugin.init`: build `T` from the packaged table and keep it for later calls.
    pub fn init(table: &str) -> Result<(), String> {
        let t = T::init(parse_packaged_table(table)?)?;
        STATE.with(|s| *s.borrow_mut() = Some(Box::new(t)));
        Ok(())
    }

    /// Run `f` with the initialised plugin (initialising with no table when the host did not call `init`).
    pub fn with<R>(f: impl FnOnce(&T) -> R) -> R {
        let ready = STATE.with(|s| s.borrow().as_ref().is_some_and(|b| b.is::<T>()));
        if !ready && let Err(e) = Self::init("") {
            // Nothing sensible to answer: trap, and the host applies the default rules.
            panic!("rule plugin {} could not initialise: {e}", T::NAME);
        }
        STATE.with(|s| {
            let state = s.borrow();
            match state.as_ref().and_then(|b| b.downcast_ref::<T>()) {
                Some(t) => f(t),
                None => panic!("rule plugin {} state missing", T::NAME),
            }
        })
    }

    pub fn info() -> PluginInfo {
        PluginInfo { name: T::NAME.into(), version: T::VERSION.into(), contract: CONTRACT_VERSION.into() }
    }
}

/// Export the `rentops:rules@1.0.0` world for a type implementing [`Rules`]. Use once, in a `cdylib`. Expands to
/// nothing on non-wasm targets, so the same crate builds and unit-tests natively.
#[macro_export]
macro_rules! export_rules {
    ($t:ty) => {
        // Exported only on wasm32: export names such as `rentops:rules/sla@1.0.0#decide` cannot go through a
        // native linker's version script, and native builds (unit tests, `cargo test --workspace`) use the rlib.
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        type __RentopsRulesPlugin = $crate::Plugin<$t>;
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::__export_rules_world!(__RentopsRulesPlugin with_types_in $crate::bindings);
    };
}
