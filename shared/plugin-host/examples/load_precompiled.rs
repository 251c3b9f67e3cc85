//! Loads a precompiled plugin artifact with the runtime-only engine (build WITHOUT feature `compile`: no
//! Cranelift in this binary, as in the functions), runs one dunning decision and prints what happened.
//! Used by the test that proves artifacts load into the runtime-only engine, and to time a cold load.
//!
//! ```text
//! cargo run --release -p rentops-plugin-host --example load_precompiled -- plugin.cwasm
//! ```

use std::sync::Arc;
use std::time::Instant;

use rentops_plugin_host::{DecisionSource, Limits, MemorySink, PluginRuntime};
use rentops_rules as r;

fn main() {
    let started = Instant::now();
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: load_precompiled <artifact.cwasm>");
        std::process::exit(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let t_runtime = Instant::now();
    let rt = match PluginRuntime::new(Limits::default(), Arc::new(MemorySink::default())) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let runtime_us = t_runtime.elapsed().as_micros();
    let t_load = Instant::now();
    let plugin = match rt.load(&bytes) {
        Ok(p) => p,
        Err(e) => {
            println!("load-error: {e}");
            std::process::exit(1);
        }
    };
    let load_us = t_load.elapsed().as_micros();
    let t_call = Instant::now();
    let mut session = rt.session("client-a", plugin.clone());
    let facts = r::InvoiceFacts {
        invoice_id: "inv-1".into(),
        lease_id: "lease-1".into(),
        days_since_issue: 40,
        days_after_due: 10,
        amount_due: r::Money::new(800_000, "CNY"),
        amount_outstanding: r::Money::new(800_000, "CNY"),
        partial_payments: 0,
        prior_stages: vec![],
        history: r::TenantHistory::default(),
        category: "office".into(),
    };
    let d = session.dunning_decide(&facts);
    let call_us = t_call.elapsed().as_micros();
    let source = match &d.source {
        DecisionSource::Plugin { version } => format!("plugin {version}"),
        DecisionSource::Fallback { reason } => format!("fallback ({reason})"),
        DecisionSource::Native => "native".into(),
    };
    let id = plugin.identity();
    println!("plugin: {} {} contract {} sha256 {}", id.info.name, id.info.version, id.info.contract, id.sha256);
    println!("decision: stage={} source={source}", d.value.stage);
    println!(
        "timing_us: runtime={runtime_us} load={load_us} instantiate+first_call={call_us} process_to_decision={}",
        started.elapsed().as_micros()
    );
}
