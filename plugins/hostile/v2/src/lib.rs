//! A plugin built against `rentops:rules@2.0.0` (see `wit/rules.wit` here): well behaved, but for a
//! contract major the host does not support. The host must refuse it at load time and apply the
//! default rules. Built for wasm32-unknown-unknown and componentized like any plugin.

wit_bindgen::generate!({ path: "wit", world: "rules" });

use exports::rentops::rules::{dunning, plugin};

struct V2;

impl plugin::Guest for V2 {
    fn info() -> plugin::PluginInfo {
        plugin::PluginInfo { name: "future plugin".into(), version: "2.0.0".into(), contract: "2.0.0".into() }
    }
    fn init(_tables: Vec<String>) -> Result<(), String> {
        Ok(())
    }
}

impl dunning::Guest for V2 {
    fn decide(_invoice_id: String) -> String {
        "none".into()
    }
}

// Exported only on wasm32: a native cdylib cannot carry export names such as
// `rentops:rules/credit@1.0.0#decide` (the linker's version script rejects them).
#[cfg(target_arch = "wasm32")]
export!(V2);
